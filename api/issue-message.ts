/**
 * What a caller is told about one invalid field. Zod says of a field that
 * is missing "expected string, received undefined": the name of a
 * JavaScript value, which no caller sent. It is told the field is required.
 */
export function issueMessage(issue: { code: string; message: string; expected?: unknown }): string {
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    return typeof issue.expected === 'string' ? `required (${issue.expected})` : 'required';
  }
  return issue.message;
}
