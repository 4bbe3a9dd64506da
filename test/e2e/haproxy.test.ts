// certgate behind a real haproxy, started from proxy-configs/haproxy/ (see terminator-suite.ts).
import { defineTerminatorSuite } from './terminator-suite.js';

defineTerminatorSuite('haproxy');
