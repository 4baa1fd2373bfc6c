"""The equality dashboard (均等化指标, SPEC §7): public figures on how evenly public services reach
urban and rural residents, how competitive purchasing is and how much payment follows performance.

- `figures`: every figure in set-based SQL, a constant number of statements whatever the data size;
- `charts`: server-rendered SVG charts (pygal), fit for the portal's Content-Security-Policy;
- `export`: the CSV download, one row per figure and dimension;
- `pages`: `/portal/dashboard` and `/portal/dashboard.csv`;
- `types` / `queries`: the public GraphQL query `equalityDashboard(from:, to:)`.
"""
