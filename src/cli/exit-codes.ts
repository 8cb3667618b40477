// Process exit codes of the CLI (sysexits-style where one fits).
export const ExitCodes = {
  OK: 0,
  START_FAILED: 1,
  USAGE: 64,
  DATA_INVALID: 65,
  NO_INPUT: 66,
  CONFIG_INVALID: 78,
} as const;
