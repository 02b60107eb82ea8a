/**
 * Tests that need a downloaded file (the real model, the Python venv): outside CI they skip when it is
 * missing (a developer without the download still runs the rest); under CI (CI=true) they never skip, so
 * a missing file FAILS them (.ci/run fetches the model and builds the venv before `npm test`).
 */
export const IN_CI = process.env.CI === "true" || process.env.CI === "1";

/** For describe.skipIf / it.skipIf: skip only when the file is missing and this is not CI. */
export function skipWithout(present: boolean): boolean {
  return !present && !IN_CI;
}
