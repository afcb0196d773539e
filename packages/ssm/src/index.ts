// @lab/ssm: work in progress.
export {};
