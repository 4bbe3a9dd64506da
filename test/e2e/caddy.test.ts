// certgate behind a real caddy, started from proxy-configs/caddy/ (see terminator-suite.ts).
import { defineTerminatorSuite } from './terminator-suite.js';

defineTerminatorSuite('caddy');
