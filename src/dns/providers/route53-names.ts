/**
 * How Route 53 writes names and ids, for the provider (route53.ts) and the native failover planner
 * (route53-native-plan.ts). No SDK here, so the pure planner loads none.
 */

/** Route 53 writes characters outside [a-z0-9-_.] as `\NNN` (octal), e.g. `\052` for `*`. */
export function unescapeName(name: string): string {
  return name.replace(/\\(\d{3})/g, (_match, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/** `/hostedzone/Z123` → `Z123` (the API returns the first, takes both). */
export function stripId(id: string): string {
  return id.replace(/^\/hostedzone\//, '');
}
