// A tiny element builder: h("div", {class: "x", onclick: f}, child, "text").
// The views build plain DOM (no framework): every panel's state is also its
// text content, which is what the browser tests read.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// One distinct, light background per source line, stable for a given line
// number: golden-angle hue steps keep neighbouring lines apart.
export function lineColour(line, alpha = 1) {
  const hue = Math.round((line * 137.508) % 360);
  return `hsla(${hue}, 75%, 85%, ${alpha})`;
}
