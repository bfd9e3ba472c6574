export declare function createFail2banStateDb(path: string): void
export declare function addLocalBan(path: string, ban: { ip: string; jail: string; timeOfBan: number; bantime: number }): void
