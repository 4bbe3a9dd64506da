#!/usr/bin/env bash
# The AWS CLI equivalent of main.tf's mutual-TLS part, for an existing ALB HTTPS listener.
# Usage: MODE=verify|passthrough LB_ARN=… LISTENER_ARN=… BUCKET=… ./cli.sh
set -euo pipefail
: "${MODE:?verify or passthrough}" "${LB_ARN:?}" "${LISTENER_ARN:?}"

if [ "$MODE" = verify ]; then
  : "${BUCKET:?S3 bucket for the client CA bundle}"
  # The union of certgate's identity bundles.
  aws s3 cp clients-ca.pem "s3://$BUCKET/certgate/clients-ca.pem"
  TS_ARN=$(aws elbv2 create-trust-store --name certgate-clients \
    --ca-certificates-bundle-s3-bucket "$BUCKET" \
    --ca-certificates-bundle-s3-key certgate/clients-ca.pem \
    --query 'TrustStores[0].TrustStoreArn' --output text)
  aws elbv2 modify-listener --listener-arn "$LISTENER_ARN" \
    --mutual-authentication "Mode=verify,TrustStoreArn=$TS_ARN,IgnoreClientCertificateExpiry=false"
else
  # The ALB forwards the chain the client sent, unverified; certgate validates it.
  aws elbv2 modify-listener --listener-arn "$LISTENER_ARN" --mutual-authentication Mode=passthrough
fi

# Invalid header names are dropped instead of forwarded; X-Forwarded-For gets the peer appended.
aws elbv2 modify-load-balancer-attributes --load-balancer-arn "$LB_ARN" --attributes \
  Key=routing.http.drop_invalid_header_fields.enabled,Value=true \
  Key=routing.http.xff_header_processing.mode,Value=append
