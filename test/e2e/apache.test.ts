// certgate behind a real apache, started from proxy-configs/apache/ (see terminator-suite.ts).
import { defineTerminatorSuite } from './terminator-suite.js';

defineTerminatorSuite('apache');
