/** Longest error text kept in the projection or an alert. */
export const MAX_ERROR_TEXT_LENGTH = 300;

/**
 * A failure reason short enough for the projection and an alert: the canonical `errorMessage`
 * (each provider's own wording, mapped by the receiver), trimmed and cut to {@link MAX_ERROR_TEXT_LENGTH}.
 */
export function errorSummary(errorMessage: string | undefined): string | undefined {
  const text = errorMessage?.trim();
  return text === undefined || text === '' ? undefined : text.slice(0, MAX_ERROR_TEXT_LENGTH);
}
