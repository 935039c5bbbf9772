/**
 * @module html-page
 * The frame of every HTML page the collector serves itself (the dashboard's shell and sign-in,
 * the recovery link's "order complete" and "link expired" pages): a document that scales on a
 * phone and sends no Referer, so no token in its address travels on.
 */
export interface HtmlPage {
  /** Plain text; the callers' titles are constants of ours. */
  title: string;
  /** Extra elements for `<head>` (style sheets, scripts, robots). */
  head?: string;
  body: string;
  /** Attributes of `<body>`. */
  bodyAttributes?: string;
}

export function htmlPage({ title, head = '', body, bodyAttributes = '' }: HtmlPage): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
${head}
</head>
<body${bodyAttributes ? ` ${bodyAttributes}` : ''}>
${body}
</body>
</html>
`;
}
