// Syntax highlighting for TinyLang and Lox: CodeMirror StreamLanguage modes.
// A stream mode (a small hand-written tokenizer) is enough for colouring; the
// real parse and every diagnostic come from the server's checker (/api/check),
// so the editor never disagrees with the compiler about what is an error.
import { StreamLanguage } from "@codemirror/language";

const TINYLANG_KEYWORDS = new Set((
  "let var fn return if else while for in break continue class extends self super " +
  "and or not is try catch finally throw import from as export spawn async await " +
  "yield select case default").split(" "));
const TINYLANG_ATOMS = new Set(["nil", "true", "false"]);
const TINYLANG_TYPES = new Set(["int", "float", "bool", "string", "any", "void", "chan"]);

const LOX_KEYWORDS = new Set((
  "and class else for fun if or print return super this var while").split(" "));
const LOX_ATOMS = new Set(["nil", "true", "false"]);

// One tokenizer shared by both languages: they differ in keywords, in block
// comments (TinyLang has /* */, Lox has none) and in string interpolation.
function mode(name, { keywords, atoms, types, blockComments, interpolation }) {
  function tokenString(stream, state) {
    while (!stream.eol()) {
      if (interpolation && stream.match("${", false)) {
        if (stream.current().length > 0) return "string";
        stream.match("${");
        state.interp.push("string");
        state.inString = false;
        return "meta";
      }
      const ch = stream.next();
      if (ch === "\\" && interpolation) { stream.next(); continue; }
      if (ch === '"') { state.inString = false; return "string"; }
    }
    return "string"; // Lox strings may span lines; TinyLang reports it
  }
  function tokenComment(stream, state) {
    while (!stream.eol()) {
      if (stream.match("*/")) { state.inComment = false; return "comment"; }
      stream.next();
    }
    return "comment";
  }
  return StreamLanguage.define({
    name,
    startState: () => ({ inString: false, inComment: false, interp: [], braces: [] }),
    copyState: (s) => ({ ...s, interp: [...s.interp], braces: [...s.braces] }),
    token(stream, state) {
      if (state.inComment) return tokenComment(stream, state);
      if (state.inString) return tokenString(stream, state);
      if (stream.eatSpace()) return null;
      if (stream.match("//")) { stream.skipToEnd(); return "comment"; }
      if (blockComments && stream.match("/*")) { state.inComment = true; return tokenComment(stream, state); }
      const ch = stream.peek();
      if (ch === '"') { stream.next(); state.inString = true; return tokenString(stream, state); }
      if (/\d/.test(ch)) {
        stream.match(/^(0x[0-9a-fA-F_]+|0b[01_]+|\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?)/);
        return "number";
      }
      if (/[A-Za-z_]/.test(ch)) {
        const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/)[0];
        if (keywords.has(word)) return "keyword";
        if (atoms.has(word)) return "atom";
        if (types && types.has(word)) return "typeName";
        if (stream.match(/^\s*\(/, false)) return "variableName.function";
        return "variableName";
      }
      if (interpolation && ch === "{") { stream.next(); state.braces.push(state.interp.length); return "brace"; }
      if (interpolation && ch === "}") {
        stream.next();
        // The } that closes a ${...} resumes the string it interrupted.
        if (state.interp.length > 0 && (state.braces.length === 0 ||
            state.braces[state.braces.length - 1] < state.interp.length)) {
          state.interp.pop();
          state.inString = true;
          return "meta";
        }
        state.braces.pop();
        return "brace";
      }
      if (stream.match(/^(->|=>|\.\.=|\.\.|==|!=|<=|>=|<<|>>|[-+*\/%=<>!&|^~?:])/)) return "operator";
      stream.next();
      return "punctuation";
    },
    languageData: { commentTokens: { line: "//", block: blockComments ? { open: "/*", close: "*/" } : undefined } },
  });
}

export const tinylang = mode("tinylang", {
  keywords: TINYLANG_KEYWORDS, atoms: TINYLANG_ATOMS, types: TINYLANG_TYPES,
  blockComments: true, interpolation: true,
});
export const lox = mode("lox", {
  keywords: LOX_KEYWORDS, atoms: LOX_ATOMS, types: null,
  blockComments: false, interpolation: false,
});

export function languageSupport(language) {
  return language === "lox" ? lox : tinylang;
}
