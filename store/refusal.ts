import type { RefusalType } from '../domain/refusals';

/**
 * A request or step refused for a business reason: the data is as it was,
 * and saying it again changes nothing. Thrown by the store; the API answers
 * it as a problem, an activity as a non-retryable failure of the same type.
 */
export class Refusal extends Error {
  constructor(
    readonly type: RefusalType,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

export function refuse(type: RefusalType, message: string, extra: Record<string, unknown> = {}): Refusal {
  return new Refusal(type, message, extra);
}

export const notFound = (what: string) => new Refusal('NotFound', `${what} not found`);
