const PALETTE = ['#4f8fe0', '#e0b34f', '#a96fe0', '#4fd0e0', '#e07fbf', '#9fbf4f', '#e08a4f', '#8fa3bf', '#c9a27e'];
const GOOD = /^(ok|good|pass|passed|accept|accepted|masked|mask|positive|yes)$/i;
/** Class names that mean "bad part / reject": red in the UI, the default positive class when evaluating. */
export const BAD = /^(ng|bad|fail|failed|reject|rejected|defect|defective|nomask|no_mask|negative|no)$/i;

/** A stable colour per class: green/red for the usual good/bad names, a palette by position otherwise. */
export function classColor(name: string | null, index: number): string {
  if (name === null) return '#555b66';
  if (GOOD.test(name)) return '#4caf7a';
  if (BAD.test(name)) return '#e0604f';
  return PALETTE[index % PALETTE.length] as string;
}
