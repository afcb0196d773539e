import type { Options } from 'tsup';
export declare function libraryConfig(options?: {
  entry?: string[] | Record<string, string>;
  external?: string[];
}): Options | Options[];
