/** Base64 and UTF-8 through the platform (browsers and Node 16+ both have atob and TextDecoder). */
const platform = globalThis as unknown as {
  atob(data: string): string;
  TextDecoder: new () => { decode(bytes: Uint8Array): string };
};

/** Decodes base64 or base64url to bytes. */
export function base64ToBytes(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = platform.atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function utf8(bytes: Uint8Array): string {
  return new platform.TextDecoder().decode(bytes);
}
