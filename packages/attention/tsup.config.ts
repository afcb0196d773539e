import { libraryConfig } from '@lab/tooling/tsup';

export default libraryConfig();
