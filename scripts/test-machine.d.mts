export declare const PROGRAMS: readonly { readonly program: string; readonly pkg: string; readonly mysql?: boolean }[]
export declare function mysqlRequired(env?: NodeJS.ProcessEnv): boolean
export declare function findProgram(name: string): string | undefined
export declare function packagesFor(programs: readonly string[]): string[]
export declare function installCommand(programs: readonly string[]): string
export declare function requirePrograms(...programs: string[]): void
