import { index, layout, route, type RouteConfig } from '@remix-run/route-config';

// Explicit route config (v3_routeConfig): the URL map of the console in one place.
export default [
  route('sign-in', 'routes/sign-in.tsx'),
  layout('routes/_console.tsx', [
    index('routes/dashboard.tsx'),
    route('stream', 'routes/stream.tsx'),
    route('targets', 'routes/targets.tsx'),
    route('targets/:owner/:repo', 'routes/target-detail.tsx'),
    route('tasks', 'routes/tasks.tsx'),
    route('graph', 'routes/graph.tsx'),
    route('policy', 'routes/policy.tsx'),
    route('audit', 'routes/audit.tsx'),
    route('commands', 'routes/commands.tsx'),
  ]),
] satisfies RouteConfig;
