import type { JoinResult } from '../driver/model.ts'

/** Join's wire shape (moby remote/api JoinResponse); Gateway fields are plain IPs, not CIDRs. */
export function joinResponse(result: JoinResult): Record<string, unknown> {
  return {
    InterfaceName: { SrcName: result.srcName, DstPrefix: result.dstPrefix },
    ...(result.gateway === undefined ? {} : { Gateway: result.gateway }),
    ...(result.gatewayIPv6 === undefined ? {} : { GatewayIPv6: result.gatewayIPv6 }),
    ...(result.staticRoutes.length === 0
      ? {}
      : {
          StaticRoutes: result.staticRoutes.map((route) => ({
            Destination: route.destination,
            RouteType: route.routeType,
            ...(route.nextHop === undefined ? {} : { NextHop: route.nextHop }),
          })),
        }),
    DisableGatewayService: result.disableGatewayService,
  }
}
