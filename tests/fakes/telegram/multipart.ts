/**
 * A small multipart/form-data reader: enough for what grammY (and curl, undici FormData)
 * send. grammY writes headers as `content-disposition:form-data;name="x";filename=report.csv`
 * (no spaces, filename unquoted and last); browsers and undici quote it. Both are accepted.
 */

export interface FormPart {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

export class MultipartError extends Error {}

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Parses `content-disposition` parameters; an unquoted filename runs to the end of the line. */
function dispositionParams(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  let rest = value.replace(/^\s*form-data\s*;?/i, "");
  while (rest.length > 0) {
    const m = /^\s*([\w*-]+)\s*=\s*/.exec(rest);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    rest = rest.slice(m[0].length);
    let v: string;
    if (rest.startsWith('"')) {
      let j = 1;
      v = "";
      while (j < rest.length && rest[j] !== '"') {
        if (rest[j] === "\\" && j + 1 < rest.length) j++;
        v += rest[j++];
      }
      rest = rest.slice(j + 1);
    } else if (key === "filename") {
      v = rest.trim();
      rest = "";
    } else {
      const end = rest.indexOf(";");
      v = (end < 0 ? rest : rest.slice(0, end)).trim();
      rest = end < 0 ? "" : rest.slice(end);
    }
    if (key === "filename*") {
      // RFC 5987: utf-8''percent-encoded
      const ext = /^[\w-]+'[\w-]*'(.*)$/.exec(v);
      if (ext) {
        try {
          params.filename = decodeURIComponent(ext[1]!);
        } catch {
          params.filename = ext[1]!;
        }
      }
    } else if (!(key === "filename" && params.filename !== undefined)) params[key] = v;
    rest = rest.replace(/^\s*;/, "");
  }
  return params;
}

export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new MultipartError("no multipart boundary in the body");
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else throw new MultipartError("malformed multipart delimiter");
    const headerEnd = body.indexOf("\r\n\r\n", pos);
    if (headerEnd < 0) throw new MultipartError("unterminated multipart headers");
    const headers = new Map<string, string>();
    for (const line of body.subarray(pos, headerEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const dataStart = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), dataStart);
    if (next < 0) throw new MultipartError("unterminated multipart body");
    const disposition = dispositionParams(headers.get("content-disposition") ?? "");
    if (disposition.name === undefined) throw new MultipartError("multipart part without a name");
    parts.push({
      name: disposition.name,
      filename: disposition.filename,
      contentType: headers.get("content-type"),
      data: Buffer.from(body.subarray(dataStart, next)),
    });
    pos = next + 2;
  }
}
