// @lab/attention: work in progress.
export {};
