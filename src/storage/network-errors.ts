/**
 * Node's (and undici's) network error codes, as every storage driver maps them: nothing was done,
 * or the connection broke, so the call is worth another attempt; a timeout is `timeout`.
 */
import type { ErrorCode } from '../errors.ts';

export const CODE_BY_ERRNO: Readonly<Record<string, ErrorCode>> = {
  ECONNREFUSED: 'unavailable',
  ECONNRESET: 'unavailable',
  ECONNABORTED: 'unavailable',
  EPIPE: 'unavailable',
  ENOTFOUND: 'unavailable',
  EAI_AGAIN: 'unavailable',
  EHOSTUNREACH: 'unavailable',
  ENETUNREACH: 'unavailable',
  UND_ERR_SOCKET: 'unavailable',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
};
