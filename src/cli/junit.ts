// JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one <testsuite> per expectation file,
// one <testcase> per case, a <failure> with what happened and the deciding rule when it did not go as expected.

export interface JunitCase {
  readonly name: string;
  /** The file the case is in: reporters group by it. */
  readonly classname: string;
  readonly failure?: { readonly message: string; readonly details: string };
  /** The case could not be run (an unknown peer or listener). */
  readonly error?: string;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text and attribute values; characters XML 1.0 cannot carry at all are dropped. */
function xml(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export function junitXml(suites: ReadonlyMap<string, readonly JunitCase[]>): string {
  const all = [...suites.values()].flat();
  const count = (cases: readonly JunitCase[]) =>
    `tests="${cases.length}" failures="${cases.filter((c) => c.failure).length}" errors="${cases.filter((c) => c.error !== undefined).length}"`;
  let out = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="portcullis test" ${count(all)}>\n`;
  for (const [file, cases] of suites) {
    out += `  <testsuite name="${xml(file)}" ${count(cases)}>\n`;
    for (const c of cases) {
      out += `    <testcase name="${xml(c.name)}" classname="${xml(c.classname)}"`;
      if (c.failure) out += `>\n      <failure message="${xml(c.failure.message)}">${xml(c.failure.details)}</failure>\n    </testcase>\n`;
      else if (c.error !== undefined) out += `>\n      <error message="${xml(c.error)}"/>\n    </testcase>\n`;
      else out += '/>\n';
    }
    out += '  </testsuite>\n';
  }
  return `${out}</testsuites>\n`;
}
