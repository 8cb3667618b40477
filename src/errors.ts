// The error catalog. Callers branch on `code`, never on instanceof.
// Every code here is listed in docs/errors.md (a test checks both ways).

export const ErrorCodes = {
  // config
  GW_ERR_CONFIG_INVALID: 'GW_ERR_CONFIG_INVALID',
  GW_ERR_CONFIG_READ: 'GW_ERR_CONFIG_READ',
  // upstream (how a failed upstream exchange is classified; see http/upstream-errors.ts)
  GW_ERR_UPSTREAM_CONNECT_FAILED: 'GW_ERR_UPSTREAM_CONNECT_FAILED',
  GW_ERR_UPSTREAM_CONNECT_TIMEOUT: 'GW_ERR_UPSTREAM_CONNECT_TIMEOUT',
  GW_ERR_UPSTREAM_TIMEOUT: 'GW_ERR_UPSTREAM_TIMEOUT',
  GW_ERR_UPSTREAM_RESET: 'GW_ERR_UPSTREAM_RESET',
  GW_ERR_UPSTREAM_BAD_RESPONSE: 'GW_ERR_UPSTREAM_BAD_RESPONSE',
  // downstream (logged when the gateway rejects a request before it could be parsed)
  GW_ERR_BAD_REQUEST: 'GW_ERR_BAD_REQUEST',
  GW_ERR_HEADERS_TOO_LARGE: 'GW_ERR_HEADERS_TOO_LARGE',
  GW_ERR_REQUEST_TIMEOUT: 'GW_ERR_REQUEST_TIMEOUT',
  // filters (WebAssembly modules)
  GW_ERR_WASM_INVALID: 'GW_ERR_WASM_INVALID',
  GW_ERR_WASM_START_FAILED: 'GW_ERR_WASM_START_FAILED',
  // process
  GW_ERR_WORKER_EXITED: 'GW_ERR_WORKER_EXITED',
  GW_ERR_LISTEN_FAILED: 'GW_ERR_LISTEN_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { statusCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.statusCode = options?.statusCode;
  }
}
