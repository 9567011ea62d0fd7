// Prints a demo's steps and remembers whether each behaved as the guide says.
export class DemoScript {
  #failed = 0;
  #step = 0;

  constructor(private readonly log: (line: string) => void) {}

  section(title: string): void {
    this.log(`\n== ${title}`);
  }

  /** One step: what was done, what happened, and whether that is what the guide expects. */
  expect(action: string, outcome: string, ok: boolean, expected: string): void {
    this.#step += 1;
    if (!ok) this.#failed += 1;
    this.log(`[${this.#step}] ${action}\n    -> ${outcome}   ${ok ? 'OK' : `UNEXPECTED (guide: ${expected})`}`);
  }

  get passed(): boolean {
    return this.#failed === 0 && this.#step > 0;
  }

  summary(name: string): string {
    return this.passed ? `${name}: all ${this.#step} steps behaved as the guide says` : `${name}: ${this.#failed} of ${this.#step} steps did not behave as the guide says`;
  }
}
