/** GitHub's limit on the comment of a deployment protection rule review or status report. */
export const GITHUB_COMMENT_MAX = 1024;

/** One line of a comment: `essential` (entity, answer, link) is kept whole; `detail` (reasons) is cut to fit. */
export interface CommentLine {
  essential: string;
  detail?: string;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '';
  return `${text.slice(0, max - 1)}…`;
}

/**
 * A comment of at most {@link GITHUB_COMMENT_MAX} characters: the header and each
 * line's essential part first (links are never cut while they fit), then as much
 * of each line's detail as the rest allows, in order.
 */
export function fitComment(header: string, lines: CommentLine[], max = GITHUB_COMMENT_MAX): string {
  const essentials = [header, ...lines.map(l => `- ${l.essential}`)].join('\n');
  if (essentials.length >= max) return cut(essentials, max);
  let budget = max - essentials.length;
  const out = [header];
  for (const line of lines) {
    let text = `- ${line.essential}`;
    if (line.detail && budget > 3) {
      const detail = cut(line.detail, budget - 2);
      if (detail) {
        text += `: ${detail}`;
        budget -= detail.length + 2;
      }
    }
    out.push(text);
  }
  return out.join('\n');
}
