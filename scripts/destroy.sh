#!/usr/bin/env bash
# `make destroy STACK=<stack>`: removes a deployed stack, Rollee's side first.
#   1. Rollee stops delivering webhooks to it: DELETE /webhooks/users and
#      /webhooks/accounts (register-webhooks --delete, with the stack's Rollee
#      API and JWT secret). Rollee keeps one configuration per kind per JWT:
#      another stack using the same JWT loses its registration too (run
#      make register-webhooks for it again). KEEP_ROLLEE_WEBHOOKS=1 skips this.
#   2. `sam delete` removes the stack (it asks first; DESTROY_NO_PROMPTS=1 does not).
#   3. It says what the stack kept (DeletionPolicy: Retain) and how to remove it.
# Your AWS credentials must allow secretsmanager:GetSecretValue on the Rollee
# JWT secret and deleting the stack. Bash 3.2 (macOS) compatible.
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${STACK:-}
[ -n "$stack" ] || { echo "usage: make destroy STACK=<stack name>" >&2; exit 1; }

. scripts/stack-outputs.sh
stack_outputs "$stack"
api_url=$(output RolleeApiUrl)
secret=$(output RolleeSecretArn)
table=$(output OwnershipTableName)

if [ "${KEEP_ROLLEE_WEBHOOKS:-}" = 1 ]; then
  echo "destroy: 1/2 keeping the webhook registration at Rollee (KEEP_ROLLEE_WEBHOOKS=1)"
else
  echo "destroy: 1/2 removing the webhook registration at Rollee ($api_url)"
  ROLLEE_API_URL=$api_url ROLLEE_SECRET_ID=$secret \
    cargo run --quiet -p webhook --bin register-webhooks -- --delete \
    || { echo "destroy: Rollee's webhooks were not removed; the stack is untouched (KEEP_ROLLEE_WEBHOOKS=1 goes on without)" >&2; exit 1; }
fi

echo "destroy: 2/2 deleting stack $stack"
if [ "${DESTROY_NO_PROMPTS:-}" = 1 ]; then
  sam delete --stack-name "$stack" --no-prompts
else
  sam delete --stack-name "$stack"
fi

cat <<EOF
destroy: done. Kept on purpose (DeletionPolicy: Retain), remove them when you no longer need them:
  - the ownership table '$table' (which app user owns which Rollee user; point-in-time recovery on):
      aws dynamodb delete-table --table-name '$table'
  - the functions' log groups, /aws/lambda/$stack/<function>:
      for g in \$(aws logs describe-log-groups --log-group-name-prefix '/aws/lambda/$stack/' --query 'logGroups[].logGroupName' --output text); do aws logs delete-log-group --log-group-name "\$g"; done
  - the API's access log group (a generated name, '$stack-ApiAccessLogs-…'):
      aws logs describe-log-groups --log-group-name-prefix '$stack-ApiAccessLogs' --query 'logGroups[].logGroupName' --output text
      aws logs delete-log-group --log-group-name <that name>
Not the stack's, so untouched: the Rollee JWT secret ($secret), and the Rollee users
the stack created (they stay at Rollee; DELETE /users/{id} removes one).
EOF
