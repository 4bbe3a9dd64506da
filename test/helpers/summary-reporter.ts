import type { Reporter, TestModule } from 'vitest/node';

/**
 * One plain closing line, `Tests: N passed, N failed`, after vitest's own summary: CI reads it
 * to know how many tests really ran (vitest's coloured summary is not a format it parses).
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
      }
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed\n`);
  }
}
