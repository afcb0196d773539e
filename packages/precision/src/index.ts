// @lab/precision: work in progress.
export {};
