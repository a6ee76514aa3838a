# Nodes: a small managed node group for system components, and GPU capacity either through
# Karpenter (karpenter.tf) or through a managed GPU node group that scales from zero.

data "aws_iam_policy_document" "node_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-eks-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

locals {
  # AWS-managed policies of every node role (managed node groups and Karpenter's nodes). No CNI
  # policy: it is on the vpc-cni add-on's own IRSA role, not on the nodes.
  node_managed_policies = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"]
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(local.node_managed_policies)

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_eks_node_group" "system" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "system"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  version         = var.kubernetes_version
  ami_type        = "AL2023_x86_64_STANDARD"
  instance_types  = var.system_node_instance_types
  capacity_type   = "ON_DEMAND"
  tags            = var.tags

  labels = {
    "siteveil.io/node-role" = "system"
  }

  scaling_config {
    min_size     = var.system_node_count.min
    desired_size = var.system_node_count.desired
    max_size     = var.system_node_count.max
  }

  update_config {
    max_unavailable = 1
  }

  depends_on = [aws_iam_role_policy_attachment.node, aws_eks_addon.vpc_cni]

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}

# Fallback without Karpenter: GPU nodes with the NVIDIA AL2023 AMI (driver included), tainted so
# that only GPU workloads land there, labelled like the chart's nodeSelector expects. Between
# gpu_node_min_count and gpu_node_max_count the Cluster Autoscaler (installed separately) decides;
# without one the group stays at its minimum.
resource "aws_eks_node_group" "gpu" {
  count = var.gpu_capacity == "managed-node-group" ? 1 : 0

  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "gpu"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  version         = var.kubernetes_version
  ami_type        = "AL2023_x86_64_NVIDIA"
  instance_types  = var.gpu_node_instance_types
  capacity_type   = "ON_DEMAND"
  disk_size       = 100
  tags            = var.tags

  labels = {
    "nvidia.com/gpu.present" = "true"
    "siteveil.io/node-role"  = "gpu"
  }

  taint {
    key    = "nvidia.com/gpu"
    effect = "NO_SCHEDULE"
  }

  scaling_config {
    min_size     = var.gpu_node_min_count
    desired_size = var.gpu_node_min_count
    max_size     = var.gpu_node_max_count
  }

  update_config {
    max_unavailable = 1
  }

  depends_on = [aws_iam_role_policy_attachment.node, aws_eks_addon.vpc_cni]

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}
