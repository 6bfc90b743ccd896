/** Base of the errors we raise on purpose. `code` is stable and safe to branch on; messages may change. */
export class AppError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A uniqueness rule of the store was violated (e.g. an identity already linked to another user). */
export class ConflictError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super("CONFLICT", message, options);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
