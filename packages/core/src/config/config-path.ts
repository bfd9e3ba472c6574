// Which config file a program reads, on its own: add2db's hand-over to the daemon needs the
// path without loading the YAML parser and the schema (load-config.ts).

export const DEFAULT_CONFIG_PATH = '/etc/f2b-central/config.yml'

/** Which file to read: `--config`, else `F2B_CENTRAL_CONFIG`, else /etc/f2b-central/config.yml. */
export function configPath(options: { path?: string | undefined; env?: NodeJS.ProcessEnv | undefined }): string {
  return options.path ?? options.env?.F2B_CENTRAL_CONFIG ?? DEFAULT_CONFIG_PATH
}
