"""The VPC: per zone a private subnet (nodes, database) and a public one (NAT, load balancers)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from deskinfra.config import StackConfig


@dataclass
class Network:
    vpc: aws.ec2.Vpc
    private_subnets: dict[str, aws.ec2.Subnet]
    """zone -> its private subnet."""
    public_subnets: dict[str, aws.ec2.Subnet]


def subnet_ranges(cidr: str, zones: list[str]) -> dict[str, tuple[str, str]]:
    """zone -> (private, public) CIDR: the VPC split in 16; zone i gets block i (private: nodes, pods, databases)
    and a quarter of block 8 + i (public: NAT gateways and load balancers only). Six zones at most."""
    network = ipaddress.ip_network(cidr)
    blocks = list(network.subnets(new_prefix=network.prefixlen + 4))
    out = {}
    for i, zone in enumerate(zones):
        private = blocks[i]
        public = next(blocks[8 + i].subnets(new_prefix=private.prefixlen + 2))
        out[zone] = (str(private), str(public))
    return out


def build(cfg: StackConfig, prefix: str, tags: dict[str, str]) -> Network:
    vpc = aws.ec2.Vpc(
        f"{prefix}-vpc", cidr_block=cfg.network.cidr, enable_dns_hostnames=True, enable_dns_support=True,
        tags={**tags, "Name": f"{prefix}-vpc"},
    )  # fmt: skip
    gateway = aws.ec2.InternetGateway(f"{prefix}-igw", vpc_id=vpc.id, tags=tags)
    public_routes = aws.ec2.RouteTable(
        f"{prefix}-public", vpc_id=vpc.id, routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}], tags=tags
    )
    private: dict[str, aws.ec2.Subnet] = {}
    public: dict[str, aws.ec2.Subnet] = {}
    for zone, (private_cidr, public_cidr) in subnet_ranges(cfg.network.cidr, cfg.network.availability_zones).items():
        public[zone] = aws.ec2.Subnet(
            f"{prefix}-public-{zone}", vpc_id=vpc.id, cidr_block=public_cidr, availability_zone=zone,
            tags={**tags, "Name": f"{prefix}-public-{zone}", "kubernetes.io/role/elb": "1"},
        )  # fmt: skip
        aws.ec2.RouteTableAssociation(
            f"{prefix}-public-{zone}", subnet_id=public[zone].id, route_table_id=public_routes.id
        )
        # one NAT gateway per zone: losing a zone never cuts the others off
        eip = aws.ec2.Eip(f"{prefix}-nat-{zone}", domain="vpc", tags=tags)
        nat = aws.ec2.NatGateway(f"{prefix}-nat-{zone}", subnet_id=public[zone].id, allocation_id=eip.id, tags=tags)
        routes = aws.ec2.RouteTable(
            f"{prefix}-private-{zone}", vpc_id=vpc.id, routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
            tags=tags,
        )  # fmt: skip
        private[zone] = aws.ec2.Subnet(
            f"{prefix}-private-{zone}", vpc_id=vpc.id, cidr_block=private_cidr, availability_zone=zone,
            tags={**tags, "Name": f"{prefix}-private-{zone}", "kubernetes.io/role/internal-elb": "1"},
        )  # fmt: skip
        aws.ec2.RouteTableAssociation(f"{prefix}-private-{zone}", subnet_id=private[zone].id, route_table_id=routes.id)
    pulumi.export("vpcId", vpc.id)
    return Network(vpc, private, public)
