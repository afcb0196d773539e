// @lab/diffusion: work in progress.
export {};
