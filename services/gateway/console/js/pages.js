// The console's page registry: each page module registers its pages here at import.
// spec = { title: '中文标题', roles: [...] (who sees it in the menu and may open it),
//          nav: true (in the menu) | false, order: 10 (menu order),
//          render: async (main, ctx, params) => void }
// ctx = { api, download, user, go, h, toast, vocab, fieldErrors } (built in app.js)
export const pages = new Map();
export function page(name, spec) { pages.set(name, spec); }
