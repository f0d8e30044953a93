/** Upstox error envelope, with both the documented snake_case and the deprecated camelCase keys. */

export interface UpstoxErrorItem {
  errorCode: string;
  message: string;
  propertyPath: string | null;
  invalidValue: unknown;
  error_code: string;
  property_path: string | null;
  invalid_value: unknown;
}

export interface UpstoxErrorBody {
  status: "error";
  errors: UpstoxErrorItem[];
}

/** Same key order as fixtures/error_invalid_token_401.json. */
export function errorBody(code: string, message: string, propertyPath: string | null = null, invalidValue: unknown = null): UpstoxErrorBody {
  return {
    status: "error",
    errors: [
      {
        errorCode: code,
        message,
        propertyPath,
        invalidValue,
        error_code: code,
        property_path: propertyPath,
        invalid_value: invalidValue,
      },
    ],
  };
}

/** Thrown by route handlers; the dispatcher turns it into an error-envelope response. */
export class FakeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly propertyPath: string | null = null,
    readonly invalidValue: unknown = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "FakeHttpError";
  }

  body(): UpstoxErrorBody {
    return errorBody(this.code, this.message, this.propertyPath, this.invalidValue);
  }
}

/** 400 with a validation error pointing at a field. */
export const badRequest = (code: string, message: string, field: string | null = null, value: unknown = null) =>
  new FakeHttpError(400, code, message, field, value === undefined ? null : value);

export const INVALID_TOKEN = () => new FakeHttpError(401, "UDAPI100050", "Invalid token used to access API");
export const ORDER_NOT_FOUND = (orderId: unknown) => new FakeHttpError(400, "UDAPI100010", "Order not found", "order_id", orderId ?? null);
export const NOT_FOUND = () => new FakeHttpError(404, "UDAPI100060", "Resource not Found.");
export const METHOD_NOT_ALLOWED = (method: string) => new FakeHttpError(405, "UDAPI10000", `Request method '${method}' is not supported for this resource`);
