// certgate behind a real nginx, started from proxy-configs/nginx/ (see terminator-suite.ts).
import { defineTerminatorSuite } from './terminator-suite.js';

defineTerminatorSuite('nginx');
