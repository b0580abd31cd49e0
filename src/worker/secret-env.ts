/**
 * Names of variables the agent must never see, whatever their value: Leviathan's credentials and
 * git's. The worker drops them from the agent's environment; the local executor refuses to hand
 * them to agents through LEVIATHAN_AGENT_ENV.
 */
export const SECRET_ENV = /^(GITHUB_TOKEN|GH_TOKEN|GH_ENTERPRISE_TOKEN|GITHUB_PAT|LEVIATHAN_API_TOKEN|LEVIATHAN_SESSION_SECRET|LEVIATHAN_DATABASE_URL|PRIVATE_KEY|PRIVATE_KEY_PATH|WEBHOOK_SECRET|GITHUB_CLIENT_SECRET|APP_ID|GIT_CONFIG_.*|GIT_ASKPASS|SSH_AUTH_SOCK)$/;
