import * as swagger from '@nestjs/swagger';

/*
 * @nestjs/swagger's decorators, applied when the OpenAPI document is first built (openapi.ts:
 * `applyDeferredDocs()` before `SwaggerModule.createDocument`) instead of when a controller
 * class is defined. Only /docs and /docs-json read that metadata, and for hundreds of tables it
 * is tens of MB of heap and half a second of boot (the tables' controllers import their
 * decorators from here; core/crud/openapi.ts's ListDocs, GetDocs, ... are deferred the same way).
 *
 * The deferred decorators run in the order TypeScript applied them, after every decorator that
 * was applied at once: a decorator of your own that should override one of these (a second
 * ApiOperation, ApiResponse for the same status) is imported from here too, so it keeps its place.
 */

type AnyDecorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => unknown;
type Decorator = ClassDecorator & MethodDecorator;

const pending: (() => void)[] = [];

/** A decorator that records where it was applied; `make()` builds the real one when the document is built. */
export function later(make: () => MethodDecorator | ClassDecorator | AnyDecorator): Decorator {
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    pending.push(() => {
      (make() as AnyDecorator)(target, key, descriptor);
    });
  }) as Decorator;
}

/**
 * Applies every decorator recorded so far (the first document build; later ones find none). One
 * that throws stays first in line, so a later build fails the same way rather than serving a
 * document without the rest.
 */
export function applyDeferredDocs(): void {
  let done = 0;
  try {
    for (; done < pending.length; done++) pending[done]();
  } finally {
    pending.splice(0, done);
  }
}

const deferred =
  <A extends unknown[]>(factory: (...args: A) => unknown) =>
  (...args: A): Decorator =>
    later(() => factory(...args) as AnyDecorator);

export const ApiBadRequestResponse = deferred(swagger.ApiBadRequestResponse);
export const ApiBearerAuth = deferred(swagger.ApiBearerAuth);
export const ApiBody = deferred(swagger.ApiBody);
export const ApiConflictResponse = deferred(swagger.ApiConflictResponse);
export const ApiConsumes = deferred(swagger.ApiConsumes);
export const ApiCreatedResponse = deferred(swagger.ApiCreatedResponse);
export const ApiExcludeController = deferred(swagger.ApiExcludeController);
export const ApiExcludeEndpoint = deferred(swagger.ApiExcludeEndpoint);
export const ApiExtension = deferred(swagger.ApiExtension);
export const ApiExtraModels = deferred(swagger.ApiExtraModels);
export const ApiForbiddenResponse = deferred(swagger.ApiForbiddenResponse);
export const ApiGoneResponse = deferred(swagger.ApiGoneResponse);
export const ApiHeader = deferred(swagger.ApiHeader);
export const ApiNoContentResponse = deferred(swagger.ApiNoContentResponse);
export const ApiNotFoundResponse = deferred(swagger.ApiNotFoundResponse);
export const ApiNotImplementedResponse = deferred(swagger.ApiNotImplementedResponse);
export const ApiOkResponse = deferred(swagger.ApiOkResponse);
export const ApiOperation = deferred(swagger.ApiOperation);
export const ApiParam = deferred(swagger.ApiParam);
export const ApiPayloadTooLargeResponse = deferred(swagger.ApiPayloadTooLargeResponse);
export const ApiPreconditionFailedResponse = deferred(swagger.ApiPreconditionFailedResponse);
export const ApiProduces = deferred(swagger.ApiProduces);
export const ApiQuery = deferred(swagger.ApiQuery);
export const ApiResponse = deferred(swagger.ApiResponse);
export const ApiSecurity = deferred(swagger.ApiSecurity);
export const ApiServiceUnavailableResponse = deferred(swagger.ApiServiceUnavailableResponse);
export const ApiTags = deferred(swagger.ApiTags);
export const ApiTooManyRequestsResponse = deferred(swagger.ApiTooManyRequestsResponse);
export const ApiUnauthorizedResponse = deferred(swagger.ApiUnauthorizedResponse);
export const ApiUnprocessableEntityResponse = deferred(swagger.ApiUnprocessableEntityResponse);
export const ApiUnsupportedMediaTypeResponse = deferred(swagger.ApiUnsupportedMediaTypeResponse);
