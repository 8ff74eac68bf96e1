/** The native `keccak` package (prebuilt bindings, pure-JS fallback); it ships no types. */
declare module 'keccak' {
  interface KeccakHash {
    update(data: Buffer | Uint8Array): KeccakHash;
    digest(): Buffer;
  }
  function createKeccakHash(algorithm: 'keccak256'): KeccakHash;
  export = createKeccakHash;
}
