// Light and dark themes: the system's by default, or the one chosen,
// remembered in localStorage.
export type Theme = "light" | "dark";

const KEY = "freshet-theme";

export function initialTheme(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(t: Theme, remember = false) {
  document.documentElement.dataset.theme = t;
  if (remember) localStorage.setItem(KEY, t);
}
