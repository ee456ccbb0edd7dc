/**
 * A text made to fit an LO value (64 characters, PS3.5 6.2), as Error Comments must: a longer
 * one is cut after its last whole word within 61 characters (at 61 when no word ends after the
 * 32nd) and ends in "...", so that what is cut off is seen to be, and never a number cut short
 * ("from 127.0.0.1:1121" for port 11211 read as another port).
 */
export function cutAtWord(text: string): string {
  if (text.length <= 64) return text;
  const room = text.slice(0, 61);
  const space = room.lastIndexOf(' ');
  return `${(space >= 32 ? room.slice(0, space) : room).trimEnd()}...`;
}
