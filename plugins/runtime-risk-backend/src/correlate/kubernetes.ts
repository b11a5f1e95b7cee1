/**
 * Kubernetes label selectors (the syntax of `kubectl -l` and of the
 * `backstage.io/kubernetes-label-selector` annotation): comma-separated
 * requirements, all of which must hold:
 * `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
 * `key` (exists) and `!key` (does not exist). `!=` and `notin` also hold when
 * the label is absent, as in Kubernetes.
 */

export type LabelRequirement =
  | { key: string; operator: 'in' | 'notin'; values: string[] }
  | { key: string; operator: 'exists' | 'doesnotexist' };

export type LabelSelector = LabelRequirement[];

/** Annotation of the Kubernetes plugin naming the workload by the pod label of the same name. */
export const ANNOTATION_KUBERNETES_ID = 'backstage.io/kubernetes-id';
/** Annotation of the Kubernetes plugin with a full label selector. */
export const ANNOTATION_KUBERNETES_LABEL_SELECTOR = 'backstage.io/kubernetes-label-selector';
/** Annotation of the Kubernetes plugin restricting the namespace. */
export const ANNOTATION_KUBERNETES_NAMESPACE = 'backstage.io/kubernetes-namespace';

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z.]*[a-z0-9A-Z])?\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/;
const VALUE = /^(([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?)$/;

/** Splits on commas outside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) throw new Error(`unbalanced ')' in '${text}'`);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new Error(`unbalanced '(' in '${text}'`);
  parts.push(current);
  return parts.map(p => p.trim());
}

function checkKey(key: string, requirement: string): string {
  if (!KEY.test(key)) throw new Error(`invalid label key '${key}' in '${requirement}'`);
  return key;
}

function checkValue(value: string, requirement: string): string {
  if (!VALUE.test(value)) throw new Error(`invalid label value '${value}' in '${requirement}'`);
  return value;
}

/** Parses a label selector; throws an Error naming the bad requirement. An empty selector is refused (it would match every pod). */
export function parseLabelSelector(text: string): LabelSelector {
  if (!text.trim()) throw new Error('empty label selector');
  return splitTop(text).map(req => {
    if (!req) throw new Error(`empty requirement in '${text}'`);
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(req);
    if (m) {
      const values = m[3].split(',').map(v => checkValue(v.trim(), req));
      return { key: checkKey(m[1], req), operator: m[2] as 'in' | 'notin', values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
    if (m) {
      return { key: checkKey(m[1], req), operator: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(m[3], req)] };
    }
    m = /^!\s*(\S+)$/.exec(req);
    if (m) return { key: checkKey(m[1], req), operator: 'doesnotexist' };
    if (/^\S+$/.test(req)) return { key: checkKey(req, req), operator: 'exists' };
    throw new Error(`cannot parse requirement '${req}'`);
  });
}

/** True if the labels satisfy every requirement of the selector. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  return selector.every(r => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.operator) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]);
      default:
        return false;
    }
  });
}

/** The `key=value` pairs one of which a matching pod must carry (for an index lookup), or undefined if the selector has no `=`/`in`. */
export function requiredPairs(selector: LabelSelector): string[] | undefined {
  const req = selector.find(r => r.operator === 'in');
  return req && req.operator === 'in' ? req.values.map(v => `${req.key}=${v}`) : undefined;
}

/** Text of a selector in canonical form (for `matchedBy` details and coverage). */
export function formatSelector(selector: LabelSelector): string {
  return selector
    .map(r => {
      if (r.operator === 'exists') return r.key;
      if (r.operator === 'doesnotexist') return `!${r.key}`;
      if (r.operator !== 'in' && r.operator !== 'notin') return r.key;
      return `${r.key} ${r.operator} (${r.values.join(',')})`;
    })
    .join(',');
}
