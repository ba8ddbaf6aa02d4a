// The IDE's HTTP API (docs/ide.md, "HTTP API"): the only way the page talks
// to the server. Every call resolves to the JSON body; an HTTP error becomes
// an Error whose message is the server's `error` text, never a stack trace.

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new Error(`the IDE server is not reachable (${err.message})`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${method} ${path}: HTTP ${response.status}`;
    throw new Error(message);
  }
  return data;
}

export const api = {
  info: () => request("GET", "/api/info"),
  example: (name) => request("GET", `/api/example/${encodeURIComponent(name)}`),
  check: (language, source) => request("POST", "/api/check", { language, source }),
  compile: (language, source) => request("POST", "/api/compile", { language, source }),
  run: (language, source) => request("POST", "/api/run", { language, source }),
  state: (session, step, heapLimit, heapOffset) =>
    request("GET", `/api/session/${encodeURIComponent(session)}/state?step=${step}` +
      `&heap_limit=${heapLimit}&heap_offset=${heapOffset}`),
  move: (session, from, action, breakpoints) =>
    request("POST", `/api/session/${encodeURIComponent(session)}/move`, { from, action, breakpoints }),
  profile: (session) => request("GET", `/api/session/${encodeURIComponent(session)}/profile`),
};
