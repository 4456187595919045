// washgate's GraphiQL bootstrap: served from /graphiql-static, so the page needs no inline script.
// It reads its settings from the page's <script type="application/json" id="washgate-graphiql-config">
// (example tabs, editor options) and mounts GraphiQL with the explorer plugin on #graphiql.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("washgate-graphiql-config").textContent);

  // GraphiQL 3 opens the first of `defaultTabs` with its query but empty Variables and Headers
  // editors (it fills those from its own storage only). On a first visit (no saved tabs yet),
  // put the first tab's variables and headers where GraphiQL looks for them.
  try {
    var first = config.tabs[0];
    if (first && window.localStorage.getItem("graphiql:tabState") === null) {
      if (first.variables) window.localStorage.setItem("graphiql:variables", first.variables);
      if (first.headers) window.localStorage.setItem("graphiql:headers", first.headers);
    }
  } catch (error) {
    // No localStorage (a private window, storage disabled): GraphiQL still opens the tabs.
  }

  // Queries, mutations and subscriptions all go to this same path: POST for the first two,
  // a graphql-transport-ws WebSocket for subscriptions. GraphiQL sends the headers of the
  // Headers editor on both; on the WebSocket they travel as connectionParams.
  var endpoint = new URL(config.endpoint, window.location.href);
  var subscriptionUrl = new URL(endpoint.href);
  subscriptionUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  subscriptionUrl.hash = "";

  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: config.editorTools,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: config.persistHeaders,
      inputValueDeprecation: true,
    }),
  );
})();
