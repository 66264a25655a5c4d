// The playground's code editor: CodeMirror 6 from npm, bundled by esbuild into
// editor.js at build time (scripts/build-wasm.sh); no CDN. Rhai, TOML and
// JSON highlighting, and compile errors marked at their line and column.
import { EditorView, basicSetup } from "codemirror";
import { Compartment, EditorSelection } from "@codemirror/state";
import { StreamLanguage } from "@codemirror/language";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { toml } from "@codemirror/legacy-modes/mode/toml";
import { json } from "@codemirror/legacy-modes/mode/javascript";

const KEYWORDS = new Set([
  "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break", "continue",
  "return", "throw", "try", "catch", "switch", "true", "false", "private", "this", "is_def_var",
]);

// Rhai, as rule scripts use it: `//` and `//!` comments, "…" and `…${x}…`
// strings, numbers, keywords, and the #{ … } map literal.
const rhai = {
  name: "rhai",
  startState: () => ({ inTemplate: false }),
  token(stream, state) {
    if (state.inTemplate) {
      while (!stream.eol()) {
        if (stream.next() === "`") { state.inTemplate = false; break; }
      }
      return "string";
    }
    if (stream.eatSpace()) return null;
    if (stream.match("//!")) { stream.skipToEnd(); return "meta"; }
    if (stream.match("//")) { stream.skipToEnd(); return "comment"; }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return "string";
    if (stream.eat("`")) { state.inTemplate = true; return "string"; }
    if (stream.match(/^\d[\d_]*(?:\.\d+)?/)) return "number";
    if (stream.match("#{")) return "bracket";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      if (KEYWORDS.has(word[0])) return "keyword";
      return stream.peek() === "(" ? "variableName.function" : "variableName";
    }
    if (stream.match(/^(?:==|!=|<=|>=|&&|\|\||\+=|-=|\*=|\/=|[-+*/%<>!=|&^])/)) return "operator";
    stream.next();
    return null;
  },
};

const languageFor = (file) =>
  file.endsWith(".rhai") ? StreamLanguage.define(rhai)
    : file.endsWith(".toml") ? StreamLanguage.define(toml)
      : StreamLanguage.define(json);

/// An editor in `parent`; `onChange(text)` is called on every edit.
export function createEditor(parent, { onChange, label }) {
  const language = new Compartment();
  let silent = false;
  // In a shadow root: there CodeMirror's styles are constructed style sheets,
  // which the served pages' CSP (style-src 'self', no inline <style>) allows.
  const root = parent.attachShadow({ mode: "open" });
  const view = new EditorView({
    root,
    parent: root,
    extensions: [
      basicSetup,
      EditorView.theme({
        "&": { height: "100%", fontSize: "12px" },
        ".cm-scroller": { fontFamily: 'ui-monospace, "SFMono-Regular", Consolas, monospace', lineHeight: "1.45" },
      }),
      lintGutter(),
      language.of(languageFor("x.toml")),
      EditorView.contentAttributes.of({ "aria-label": label }),
      EditorView.updateListener.of((u) => { if (u.docChanged && !silent) onChange(u.state.doc.toString()); }),
    ],
  });
  const posOf = (line, column) => {
    const l = view.state.doc.line(Math.min(Math.max(line, 1), view.state.doc.lines));
    return Math.min(l.from + Math.max(column, 1) - 1, l.to);
  };
  return {
    view,
    /// Shows `text` as file `file` (its language picks the highlighting).
    show(file, text) {
      silent = true;
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text },
        effects: language.reconfigure(languageFor(file)),
        selection: EditorSelection.cursor(0),
      });
      silent = false;
      view.dispatch(setDiagnostics(view.state, []));
    },
    text: () => view.state.doc.toString(),
    /// Marks a compile error at its line and column, and moves there.
    markError(line, column, message) {
      const from = posOf(line, column);
      const to = Math.min(from + 1, view.state.doc.line(view.state.doc.lineAt(from).number).to) || from;
      view.dispatch(setDiagnostics(view.state, [{ from, to: Math.max(to, from), severity: "error", message }]));
      view.dispatch({ selection: EditorSelection.cursor(from), scrollIntoView: true });
    },
    clearErrors() { view.dispatch(setDiagnostics(view.state, [])); },
  };
}
