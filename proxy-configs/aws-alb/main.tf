# certgate behind an AWS Application Load Balancer with mutual TLS. Not run by the test suite
# (no AWS here); the header encodings are covered by certgate's decoder tests.
#
#   terraform apply -var mtls_mode=verify       # ALB validates the client chain against a trust store
#   terraform apply -var mtls_mode=passthrough  # ALB forwards whatever the client sent; certgate validates
#
# The matching certgate config is in certgate.trusted-proxy.yaml (one entry per mode).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.40" }
  }
}

variable "mtls_mode" {
  description = "verify or passthrough"
  type        = string
  default     = "verify"
  validation {
    condition     = contains(["verify", "passthrough"], var.mtls_mode)
    error_message = "mtls_mode must be verify or passthrough."
  }
}
variable "vpc_id" { type = string }
variable "alb_subnet_ids" {
  description = "Subnets for the ALB. Their CIDRs are certgate's trustedProxies: dedicate them to the ALB."
  type        = list(string)
}
variable "server_certificate_arn" { type = string } # ACM certificate the ALB presents
variable "trust_store_bucket" { type = string }     # S3 bucket holding the client CA bundle
variable "client_ca_bundle_file" {
  description = "PEM bundle of client CAs: the union of certgate's identity bundles (verify mode)"
  type        = string
  default     = "clients-ca.pem"
}
variable "certgate_security_group_id" {
  description = "Security group of the certgate tasks/instances (target type ip, port 8080)"
  type        = string
}

resource "aws_s3_object" "client_ca" {
  bucket = var.trust_store_bucket
  key    = "certgate/clients-ca.pem"
  source = var.client_ca_bundle_file
  etag   = filemd5(var.client_ca_bundle_file)
}

resource "aws_lb_trust_store" "clients" {
  count                            = var.mtls_mode == "verify" ? 1 : 0
  name                             = "certgate-clients"
  ca_certificates_bundle_s3_bucket = aws_s3_object.client_ca.bucket
  ca_certificates_bundle_s3_key    = aws_s3_object.client_ca.key
}

resource "aws_security_group" "alb" {
  name   = "certgate-alb"
  vpc_id = var.vpc_id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [var.certgate_security_group_id]
  }
}

# certgate's HTTP port accepts connections from the ALB only: the network half of
# "a certificate header is read only from a trusted proxy".
resource "aws_security_group_rule" "certgate_from_alb" {
  type                     = "ingress"
  security_group_id        = var.certgate_security_group_id
  from_port                = 8080
  to_port                  = 8080
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.alb.id
}

resource "aws_lb" "certgate" {
  name               = "certgate"
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.alb_subnet_ids
  # Refuse header names with characters ALB considers invalid instead of forwarding them.
  drop_invalid_header_fields = true
  # X-Forwarded-For: "append" (the default) adds the TCP peer on the right; certgate takes the
  # right-most address that is not a trusted proxy, so a client-written value to the left is ignored.
  xff_header_processing_mode = "append"
}

resource "aws_lb_target_group" "certgate" {
  name        = "certgate"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  health_check {
    # Ready only while the token store answers: the ALB drains a gateway that cannot check tokens.
    path    = "/readyz"
    matcher = "200"
  }
}

resource "aws_lb_listener" "mtls" {
  load_balancer_arn = aws_lb.certgate.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.server_certificate_arn

  mutual_authentication {
    mode = var.mtls_mode
    # verify: the ALB refuses the handshake unless the chain leads to the trust store. Clients
    # without a valid certificate get a TLS error, never certgate's JSON 401. certgate still
    # validates against its own identities.
    trust_store_arn                  = var.mtls_mode == "verify" ? aws_lb_trust_store.clients[0].arn : null
    ignore_client_certificate_expiry = var.mtls_mode == "verify" ? false : null
  }

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.certgate.arn
  }
}

output "alb_dns_name" { value = aws_lb.certgate.dns_name }
