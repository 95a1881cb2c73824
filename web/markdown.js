// Formatted messages: the subset of CommonMark a chat line may use, parsed by markdown-it (vendored,
// web/vendor/) and built as DOM from its tokens: text nodes and a fixed set of elements, never HTML
// of user text. The log keeps what was typed; only the page shows it formatted.
//
// The subset: **bold**, *italic* / _italic_, ~~strike~~, `code`, ``` fenced blocks ```, > quotes,
// lists (- and 1.), backslash escapes, and a newline as a line break. Everything else (raw HTML,
// headings, [links](...), images, tables, rules, entities, indented code) stays the text it was.
import MarkdownIt from "./vendor/markdown-it.mjs";

const parser = new MarkdownIt("zero", { html: false, breaks: true, linkify: false, typographer: false })
  .enable(["fence", "blockquote", "list", "newline", "escape", "backticks", "strikethrough", "emphasis"]);

// A text with none of these is one plain paragraph: shown without parsing (most chat lines).
const SYNTAX = /[*_~`\\]|^[ \t]*(?:>|[-+*][ \t]|\d{1,9}[.)][ \t])/m;

const ELEMENTS = {
  paragraph_open: "p", blockquote_open: "blockquote", bullet_list_open: "ul", ordered_list_open: "ol",
  list_item_open: "li", strong_open: "strong", em_open: "em", s_open: "s",
};

/** Whether `text` uses any of the syntax (a cheap test: false means it shows as typed). */
export function hasSyntax(text) {
  return SYNTAX.test(text);
}

/**
 * Fill `node` with `text` formatted. `inline(parent, text)` appends a run of plain text (links,
 * mentions, search marks are its business) and returns true if it mentioned this page's handle; code
 * is appended as text only. `copy(code)` makes the Copy button of a fenced block (or null: none).
 * Returns whether any run mentioned this page's handle.
 */
export function fillFormatted(node, text, inline, copy = null) {
  if (!hasSyntax(text)) return Boolean(inline(node, text));
  let tokens = parser.parse(text, {});
  // One paragraph: its content straight into the node (no <p>), as a plain line is shown.
  if (tokens.length === 3 && tokens[0].type === "paragraph_open") tokens = tokens.slice(1, 2);
  let mentioned = false;
  const stack = [node];
  const top = () => stack[stack.length - 1];
  const walk = (list) => {
    for (const token of list) {
      if (token.type === "inline") {
        walk(token.children ?? []);
      } else if (token.nesting === 1 && ELEMENTS[token.type]) {
        if (token.hidden) continue; // the paragraphs of a tight list
        const element = document.createElement(ELEMENTS[token.type]);
        const start = token.attrGet("start");
        if (start && /^\d+$/.test(start)) element.start = Number(start);
        top().append(element);
        stack.push(element);
      } else if (token.nesting === -1 && ELEMENTS[token.type.replace(/_close$/, "_open")]) {
        if (!token.hidden) stack.pop();
      } else if (token.type === "text") {
        mentioned = Boolean(inline(top(), token.content)) || mentioned;
      } else if (token.type === "code_inline") {
        const code = document.createElement("code");
        code.textContent = token.content;
        top().append(code);
      } else if (token.type === "softbreak" || token.type === "hardbreak") {
        top().append(document.createElement("br"));
      } else if (token.type === "fence") {
        top().append(codeBlock(token.content.replace(/\n$/, ""), copy));
      } else if (token.content) {
        top().append(token.content); // a token of no rule enabled here: its text, as text
      }
    }
  };
  walk(tokens);
  return mentioned;
}

function codeBlock(content, copy) {
  const block = document.createElement("div");
  block.className = "code-block";
  const pre = document.createElement("pre");
  pre.tabIndex = 0; // scrolls sideways: reachable by keyboard
  const code = document.createElement("code");
  code.textContent = content;
  pre.append(code);
  block.append(pre);
  if (copy) block.append(copy(content));
  return block;
}

/** The Copy button of a fenced block: copies its text, says so for a moment. */
export function copyButton(content) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary copy-code";
  button.textContent = "Copy code";
  button.addEventListener("click", async (event) => {
    event.stopPropagation(); // not a tap on the line (which shows its actions)
    try {
      await navigator.clipboard.writeText(content);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy code"; }, 1500);
  });
  return button;
}
