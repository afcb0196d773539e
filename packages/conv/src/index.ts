// @lab/conv: work in progress.
export {};
