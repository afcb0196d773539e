// @lab/segmetrics: work in progress.
export {};
